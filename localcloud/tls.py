"""A local certificate authority: every HTTPS stand-in presents a certificate it issued.

Clients trust the CA bundle written next to the certificates; TLS verification is never turned off. The one
server certificate covers the loopback names and `*.deployments.localhost`, the host names of the EMQX
stand-in's deployment APIs (`localcloud.emqx.hosts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

from localcloud.emqx.hosts import DEPLOYMENT_HOST_SUFFIX

# Loopback by RFC 6761 section 6.3; a wildcard covers exactly one label, the deployment's id.
SERVER_NAMES = ("localhost", "127.0.0.1", "::1", "*" + DEPLOYMENT_HOST_SUFFIX)


@dataclass(frozen=True)
class ServerCertificate:
    certfile: Path
    keyfile: Path


@dataclass(frozen=True)
class LocalCA:
    ca_bundle: Path
    server: ServerCertificate

    @classmethod
    def create(cls, directory: Path) -> LocalCA:
        """Issue a fresh CA and one server certificate for `SERVER_NAMES` into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="localcloud")
        cert = ca.issue_cert(*SERVER_NAMES)
        ca_bundle = directory / "ca.pem"
        certfile = directory / "server.pem"
        keyfile = directory / "server-key.pem"
        ca.cert_pem.write_to_path(str(ca_bundle))
        cert.cert_chain_pems[0].write_to_path(str(certfile))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(certfile), append=True)
        cert.private_key_pem.write_to_path(str(keyfile))
        keyfile.chmod(0o600)
        return cls(ca_bundle=ca_bundle, server=ServerCertificate(certfile=certfile, keyfile=keyfile))
