"""report.pdf: the HTML report printed by headless Chromium (the print stylesheet applies).

Chromium stamps its PDFs with the wall clock (/CreationDate, /ModDate). Each stamp is
overwritten in place with the report's own time (the state's last update, else its
creation), same length, so the cross-reference offsets stay valid and the same report
always gives the same PDF bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from harness.errors import HarnessError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw")
TIMEOUT = 120  # seconds Chromium may take to print
_STAMP = re.compile(rb"/(CreationDate|ModDate) ?\(D:\d{14}([+-]\d\d'\d\d'|Z)?\)")


class PdfError(HarnessError):
    """Chromium is missing or did not print."""


def chromium() -> str:
    """The browser binary: $CHROMIUM, else Debian's chromium (`make chromium` installs it)."""
    explicit = os.environ.get("CHROMIUM")
    for candidate in ((explicit,) if explicit else ()) + CHROMIUM_CANDIDATES:
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    raise PdfError("no Chromium to print the PDF with: install Debian's `chromium` (make chromium) "
                   "or set CHROMIUM=/path/to/chrome")


def stamp(pdf: bytes, when: datetime) -> bytes:
    """Every date stamp of the PDF set to `when` (UTC), each exactly as long as before."""
    digits = when.strftime("%Y%m%d%H%M%S").encode()

    def fix(m: re.Match[bytes]) -> bytes:
        zone = m.group(2) or b""
        utc = b"+00'00'" if len(zone) == 7 else zone  # +hh'mm' stays as long, Z stays Z
        return m.group(0)[: m.group(0).index(b"(D:") + 3] + digits + utc + b")"

    return _STAMP.sub(fix, pdf)


def print_pdf(html_path: Path, pdf_path: Path | None = None, when: datetime | None = None) -> Path:
    """Print `html_path` to `pdf_path` (report.pdf beside it by default)."""
    html_path = html_path.resolve()
    out = (pdf_path or html_path.with_name("report.pdf")).resolve()
    with tempfile.TemporaryDirectory(prefix="dst-pdf-") as tmp:
        target = Path(tmp) / "report.pdf"
        cmd = [chromium(), *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={target}",
               html_path.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False,  # dst-ok: a guard
                                  env={**os.environ, "TZ": "UTC"})  # against a hung browser, never in the output
        except subprocess.TimeoutExpired:
            raise PdfError(f"chromium did not print {html_path} within {TIMEOUT} s") from None
        if not target.exists() or target.stat().st_size == 0:
            raise PdfError(f"chromium printed nothing (exit {proc.returncode}): {proc.stderr[-1000:]}")
        data = target.read_bytes()
    out.write_bytes(stamp(data, when) if when is not None else data)
    return out


__all__ = ["PdfError", "chromium", "print_pdf", "stamp"]
