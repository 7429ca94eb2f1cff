"""nginx-rtmp: its hook calls (form fields nginx POSTs), and the server itself, rendered
from `nginx/nginx.conf.template` and run as a child process (tests, benchmarks, local use).

nginx posts `call` (publish, publish_done, record_done), `name` (the stream name: the key
in the `live` application, the stream id in the `hls` one), `app`, `addr`, `clientid`, and
`path` for a finished recording.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import msgspec

from domain.errors import Invalid
from infra.ingest.ladder import template_values

PROVIDER = "nginx-rtmp"
TEMPLATE = Path(__file__).with_name("nginx") / "nginx.conf.template"
MODULE_PATH = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


class Hook(msgspec.Struct, frozen=True, kw_only=True):
    """One hook call from nginx-rtmp."""

    call: str
    name: str
    app: str = ""
    addr: str = ""
    clientid: str = ""
    path: str | None = None


def parse_hook(form: dict[str, Any], expected_call: str) -> Hook:
    """The hook's fields; Invalid naming the field when nginx's form is not what we expect."""
    call = str(form.get("call") or "")
    if call != expected_call:
        raise Invalid(f"expected call={expected_call}", field="call")
    name = str(form.get("name") or "")
    if not name:
        raise Invalid("the stream name is missing", field="name")
    path = form.get("path")
    if expected_call == "record_done" and not path:
        raise Invalid("the recording path is missing", field="path")
    return Hook(call=call, name=name, app=str(form.get("app") or ""),
                addr=str(form.get("addr") or ""), clientid=str(form.get("clientid") or ""),
                path=str(path) if path else None)


def render_config(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """Fills the template's `${NAME}` placeholders (as envsubst does with a list)."""
    text = template.read_text()
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> str | None:
    """None when nginx, its RTMP module and ffmpeg are installed; else what is missing."""
    missing = [n for n in ("nginx", "ffmpeg") if shutil.which(n) is None]
    if not Path(MODULE_PATH).exists():
        missing.append("libnginx-mod-rtmp")
    return ", ".join(missing) or None


class NginxRtmp:
    """nginx with the RTMP module on loopback ports, its files under `root`."""

    def __init__(self, root: Path, hook_base: str = "", *, hook_token: str | None = None,
                 hls_fragment: str = "1s", user: str = "root", qualities: str = "source",
                 update_interval: str = "5s") -> None:
        self.root = root
        self.rtmp_port = free_port()
        self.http_port = free_port()
        self.stat_port = free_port()
        self.hook_token = hook_token
        self.hls_dir = root / "hls"
        self.record_dir = root / "recordings"
        self.values = {
            "MODULE_PATH": MODULE_PATH,
            "NGINX_USER": user,
            "NGINX_PREFIX": str(root),
            "RTMP_LISTEN": f"127.0.0.1:{self.rtmp_port}",
            "HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "STAT_LISTEN": f"127.0.0.1:{self.stat_port}",
            "UPDATE_INTERVAL": update_interval,
            "HOOK_BASE": hook_base.rstrip("/"),
            "HLS_DIR": str(self.hls_dir),
            "RECORD_DIR": str(self.record_dir),
            "HLS_FRAGMENT": hls_fragment,
            "HLS_PLAYLIST_LENGTH": "10s",
            **template_values(qualities, f"127.0.0.1:{self.rtmp_port}"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ingest_url(self) -> str:
        """Where encoders publish (append `/<stream key>`)."""
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live"

    @property
    def push_url(self) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/hls"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def stat_url(self) -> str:
        """nginx-rtmp's statistics page (XML)."""
        return f"http://127.0.0.1:{self.stat_port}/stat"

    def start(self, hook_base: str | None = None, timeout_s: float = 10.0) -> None:
        """Writes the config and starts nginx; `hook_base` (the API's nginx-rtmp webhook
        URL) may be given only now, when the API's port is known."""
        if hook_base is not None:
            self.values["HOOK_BASE"] = hook_base.rstrip("/")
        self.values["HOOK_QUERY"] = f"?token={self.hook_token}" if self.hook_token else ""
        for d in (self.root, self.hls_dir, self.record_dir):
            d.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(render_config(self.values))
        log = (self.root / "stderr.log").open("wb")
        self.process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(self.root)],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.rtmp_port), timeout=0.2), \
                        socket.create_connection(("127.0.0.1", self.http_port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not listen in time")

    def errors(self) -> str:
        texts = [p.read_text(errors="replace") for p in
                 (self.root / "stderr.log", self.root / "error.log") if p.exists()]
        return "\n".join(texts)[-4000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def publish_command(url: str, seconds: float = 6.0, *, size: str = "320x240",
                    cbr_kbps: int | None = None) -> list[str]:
    """ffmpeg publishing a generated test pattern and tone, as an encoder would; with
    `cbr_kbps`, at that constant video bitrate (filler included, as a CBR encoder sends)."""
    rate = (["-b:v", f"{cbr_kbps}k", "-minrate", f"{cbr_kbps}k", "-maxrate", f"{cbr_kbps}k",
             "-bufsize", f"{cbr_kbps // 2}k", "-x264-params", "nal-hrd=cbr"]
            if cbr_kbps else [])
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=30",
            "-f", "lavfi", "-i", "sine", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", *rate, "-c:a", "aac",
            "-f", "flv", url]
