"""Show the district's public key, issuer id and DID document (to publish and to
put in the docs), or make a new seed for CERTIFICATES_SIGNING_KEY."""

import json

from django.core.management.base import BaseCommand

from certificates import credentials


class Command(BaseCommand):
    help = "显示证书签名公钥与 DID 文档；--generate 生成新的签名密钥。Show the signing key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--generate",
            action="store_true",
            help="生成新的 CERTIFICATES_SIGNING_KEY（只设置一次；旧公钥放入 CERTIFICATES_RETIRED_PUBLIC_KEYS）",
        )

    def handle(self, *args, generate=False, **options):
        if generate:
            self.stdout.write(f"CERTIFICATES_SIGNING_KEY={credentials.new_seed()}")
            self.stdout.write("请妥善保存，只在服务器环境变量中设置。Keep it secret; set it once.")
            return
        self.stdout.write(f"公钥 public key: {credentials.public_key_multibase()}")
        self.stdout.write(f"发证机关 issuer: {credentials.issuer_id()}")
        self.stdout.write(f"验证方法 verification method: {credentials.verification_method()}")
        self.stdout.write(json.dumps(credentials.did_document(), ensure_ascii=False, indent=2))
