#!/usr/bin/env python3
"""Produce AES-256-GCM test vectors in the gateway's credential format.

The gateway (`gateway/crypto.py` of the original project) stores channel credentials as
``nonce (12 bytes) || ciphertext || tag (16 bytes)`` with no associated data, in a
VARBINARY column, raw bytes (no base64). This script uses Python's `cryptography`
package, an implementation independent of ours, to write
`tests/fixtures/gateway_vectors.json`; `tests/it/channels.rs` checks that our code decrypts
each vector and, given the same nonce, encrypts to the same bytes.

Keys and nonces are derived from fixed labels so that re-running the script reproduces the
committed file byte for byte:

    pip install cryptography
    python3 tools/gateway_vectors.py > tests/fixtures/gateway_vectors.json
"""

import base64
import hashlib
import json

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def derive(label: str, n: int) -> bytes:
    return hashlib.sha256(label.encode("utf-8")).digest()[:n]


# Plaintexts exactly as PHP's json_encode(..., JSON_UNESCAPED_UNICODE) writes the
# credentials of the channelAuth form (key order of the original, slashes escaped).
CASES = [
    ("amazon", '{"access_token":"Atza|tok-abc","partner_tag":"mytag-20","marketplace":"jp"}'),
    ("jd", '{"app_id":"jd-app-2","app_secret":"jd-secret-2","refresh_token":"rt-2"}'),
    ("taobao-unicode", '{"app_id":"淘宝应用","app_secret":"s\\/e\\"c<&>","refresh_token":""}'),
    ("empty", ""),
]


def main() -> None:
    vectors = []
    for i, (name, plaintext) in enumerate(CASES):
        key = derive(f"chathub-gateway-key-{i}", 32)
        nonce = derive(f"chathub-gateway-nonce-{i}", 12)
        blob = nonce + AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), None)
        # The gateway's decrypt(): split the nonce off and open with no associated data.
        opened = AESGCM(key).decrypt(blob[:12], blob[12:], None).decode("utf-8")
        assert opened == plaintext
        if plaintext:
            json.loads(opened)
        vectors.append(
            {
                "name": name,
                "key_base64": base64.b64encode(key).decode("ascii"),
                "nonce_hex": nonce.hex(),
                "plaintext": plaintext,
                "blob_hex": blob.hex(),
            }
        )
    doc = {
        "source": "tools/gateway_vectors.py (Python cryptography AESGCM)",
        "format": "nonce(12) || ciphertext || tag(16), no associated data, raw bytes",
        "vectors": vectors,
    }
    print(json.dumps(doc, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
