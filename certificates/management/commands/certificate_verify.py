"""Verify a downloaded certificate without the portal: the signature against the
district's public key, then revocation against its status list.

    manage.py certificate_verify 证书.pdf            # or credential.json
    manage.py certificate_verify c.json --public-key z6Mk… --status-list list.json
    manage.py certificate_verify c.json --offline     # signature only

Exit codes: 0 valid; 1 signature, tampering or unreadable file; 2 revoked;
3 status could not be checked (no list and not --offline).
"""

import json
from pathlib import Path

import requests
from django.core.management.base import BaseCommand, CommandError

from certificates import credentials

PROBLEMS = {
    "no_proof": ("文件中没有签名。", "The file carries no proof."),
    "unsupported": ("签名方式不受支持。", "The proof type or cryptosuite is not supported."),
    "unknown_key": (
        "签名所用的公钥不是发证机关的公钥。",
        "The signing key is not the issuer's key.",
    ),
    "bad_signature": (
        "签名不符：文件内容被改动过。",
        "The signature does not match: the file was changed.",
    ),
    "malformed": ("文件格式不正确。", "The file is malformed."),
}


def _fail(code: int, chinese: str, english: str):
    return CommandError(f"{chinese}\n{english}", returncode=code)


class Command(BaseCommand):
    help = "验证证书（PDF 或 credential.json）的签名与撤销状态。Verify a certificate file."

    def add_arguments(self, parser):
        parser.add_argument("path", help="证书 PDF 或 credential.json")
        parser.add_argument(
            "--public-key",
            action="append",
            dest="public_keys",
            help="发证机关的公钥 z6Mk…（可重复；默认用本系统的当前与已停用公钥）",
        )
        parser.add_argument("--status-list", help="状态列表文件或网址（默认按证书中的网址获取）")
        parser.add_argument("--offline", action="store_true", help="只验证签名，不查撤销状态")

    def handle(self, *args, path, public_keys=None, status_list=None, offline=False, **options):
        document = self._read(path)
        check = credentials.credential_verify(document, public_keys=public_keys)
        if not check.ok:
            chinese, english = PROBLEMS.get(check.problem, PROBLEMS["malformed"])
            raise _fail(1, f"验证失败：{chinese}", f"Not valid: {english}")
        name = document.get("credentialSubject", {}).get("name", "")
        title = document.get("name", "")
        if status_list is None and offline:
            self.stdout.write(f"签名有效：{title} {name}（未查撤销状态）")
            self.stdout.write("Signature valid (revocation not checked: --offline).")
            return
        status_document = self._status_list(document, status_list)
        status = credentials.credential_status(document, status_document, public_keys=public_keys)
        if status == "revoked":
            raise _fail(2, "证书已被撤销。", "The certificate has been revoked.")
        if status != "valid":
            raise _fail(
                3,
                "签名有效，但无法确认撤销状态（状态列表无效或不匹配）。",
                "Signature valid, but the status list is invalid or does not match.",
            )
        self.stdout.write(f"证书有效：{title} {name}")
        self.stdout.write("Valid: signature verified and not revoked.")

    def _read(self, path: str) -> dict:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise _fail(1, f"无法读取文件：{path}", f"Cannot read {path}: {exc}") from exc
        if data.startswith(b"%PDF"):
            document = credentials.credential_from_pdf(data)
            if document is None:
                raise _fail(1, "PDF 中没有可验证凭证。", "The PDF carries no credential.json.")
            return document
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _fail(1, "文件不是有效的 JSON。", "The file is not valid JSON.") from exc
        if not isinstance(document, dict):
            raise _fail(1, "文件格式不正确。", "The file is malformed.")
        return document

    def _status_list(self, document: dict, source: str | None) -> dict:
        if source is None:
            entry = document.get("credentialStatus") or {}
            source = entry.get("statusListCredential") if isinstance(entry, dict) else None
            if not source:
                raise _fail(3, "证书中没有状态列表地址。", "The credential names no status list.")
        try:
            if source.startswith(("https://", "http://")):
                response = requests.get(source, timeout=5)
                response.raise_for_status()
                return response.json()
            return json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError, requests.RequestException) as exc:
            raise _fail(
                3,
                f"无法获取状态列表：{source}（可加 --offline 只验证签名）",
                f"Could not fetch the status list {source} (use --offline to skip).",
            ) from exc
