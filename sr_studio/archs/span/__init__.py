from sr_studio.archs.span.detect import detect_span
from sr_studio.archs.span.network import SPAN

__all__ = ["SPAN", "detect_span"]
