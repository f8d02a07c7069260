from sr_studio.archs.hat.detect import detect_hat
from sr_studio.archs.hat.network import HAT

__all__ = ["HAT", "detect_hat"]
