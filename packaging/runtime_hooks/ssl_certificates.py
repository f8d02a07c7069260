"""Runtime hook: let HTTPS model downloads find the system's CA certificates from the frozen bundle.

The bundle carries the build machine's OpenSSL, which looks for certificates where that machine's
distribution keeps them (e.g. /usr/lib/ssl on Debian). On another distribution (Fedora keeps them in
/etc/pki/tls) or on macOS that folder does not exist and every HTTPS download would fail certificate
verification. When the user has not chosen (SSL_CERT_FILE / SSL_CERT_DIR) and OpenSSL's own places
are missing, point SSL_CERT_FILE at the first CA bundle the system has. Windows needs nothing:
Python reads the Windows certificate store.
"""

import os
import ssl
import sys

# Where Linux distributions and macOS keep a single-file CA bundle.
SYSTEM_CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora, RHEL (newer)
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # macOS, Alpine, some BSDs
)


def certificate_file_to_use(verify_paths, environ, exists=os.path.exists):
    """The CA file to set as SSL_CERT_FILE, or None when OpenSSL will already find certificates."""
    if environ.get(verify_paths.openssl_cafile_env) or environ.get(verify_paths.openssl_capath_env):
        return None
    if exists(verify_paths.openssl_cafile) or exists(verify_paths.openssl_capath):
        return None
    return next((candidate for candidate in SYSTEM_CA_FILES if exists(candidate)), None)


if getattr(sys, "frozen", False) and sys.platform != "win32":
    _chosen = certificate_file_to_use(ssl.get_default_verify_paths(), os.environ)
    if _chosen:
        os.environ["SSL_CERT_FILE"] = _chosen
