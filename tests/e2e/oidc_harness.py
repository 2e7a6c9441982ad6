"""The real parts of the sign-in tests: the test OpenID provider (node oidc-provider,
``tests/oidc/provider.js``) and ``idflow serve``, each a child process on a free port."""

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from benchmarks.topology import wait_for

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
IDFLOW = str(Path(sys.executable).with_name("idflow"))
START_TIMEOUT_S = 60


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class OidcProvider:
    """``node provider.js``: an OpenID provider at http://127.0.0.1:<free port>."""

    def __init__(self, log: Path, client_id: str, secret: str, idflow_urls: list[str]) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        self.log, self.client_id, self.secret, self.idflow_urls = (
            log,
            client_id,
            secret,
            idflow_urls,
        )
        self.issuer = ""
        self.process: subprocess.Popen[str] | None = None

    def add(self, login: str, password: str, **claims: Any) -> None:
        """A test account (before start): its sub is ``sub-<login>``."""
        self.accounts[login] = {"sub": f"sub-{login}", "password": password, "claims": claims}

    def start(self) -> "OidcProvider":
        node = PROVIDER_DIR / "node_modules" / "oidc-provider"
        assert node.is_dir(), "tests/oidc/node_modules is missing: run scripts/ensure-oidc-provider"
        env = os.environ | {
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.secret,
            "OIDC_REDIRECT_URIS": ",".join(f"{u}/login/oidc/callback" for u in self.idflow_urls),
            "OIDC_POST_LOGOUT_URIS": ",".join(f"{u}/login" for u in self.idflow_urls),
            "OIDC_ACCOUNTS": json.dumps(self.accounts),
        }
        self.process = subprocess.Popen(
            ["node", "provider.js"],
            cwd=PROVIDER_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ""
        assert line, f"the test provider did not start; see {self.log}: {self.log.read_text()}"
        self.issuer = json.loads(line)["issuer"]
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    def steer(self, what: str, **body: Any) -> None:
        answer = httpx.post(f"{self.issuer}/__test/{what}", json=body, timeout=10)
        assert answer.status_code == 200, answer.text

    def set_claims(self, login: str, **claims: Any) -> None:
        """The account's claims from its next sign-in on (a change of groups)."""
        self.accounts[login]["claims"] = claims
        self.steer("account", login=login, claims=claims)

    def sign_with(self, signer: str = "normal", clock_offset_s: int = 0) -> None:
        """How the token endpoint signs ID tokens from now on (see provider.js)."""
        self.steer("signer", signer=signer, clock_offset_s=clock_offset_s)


class IdflowServer:
    """``idflow serve`` on ``port`` with the given IDFLOW_* settings, ready when /login answers."""

    def __init__(self, port: int, log: Path, settings: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port, self.log, self.settings = port, log, settings
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "IdflowServer":
        env = os.environ | {f"IDFLOW_{k.upper()}": v for k, v in self.settings.items()}
        env |= {"IDFLOW_BASE_URL": self.url, "IDFLOW_COOKIE_SECURE": "false"}
        self.process = subprocess.Popen(
            [IDFLOW, "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )
        what = f"idflow serve on {self.url} ({self.log})"
        wait_for(self._answers, START_TIMEOUT_S, what, every=0.1)
        return self

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        try:
            return httpx.get(f"{self.url}/login", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
