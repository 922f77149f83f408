// A throw-away CA and a localhost server certificate it signed, made with Debian's openssl.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestCertificates {
  /** The CA certificate (PEM) and where it is on disk, as a user would mount it. */
  caPem: string;
  caFile: string;
  key: string;
  cert: string;
}

export function makeLocalhostCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-proxy-certs-"));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=mcp-oidc-proxy test CA",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  );
  openssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    file("server.key"),
    "-out",
    file("server.csr"),
  );
  writeFileSync(file("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    file("ext.cnf"),
    "-out",
    file("server.crt"),
  );
  return {
    caPem: readFileSync(file("ca.crt"), "utf8"),
    caFile: file("ca.crt"),
    key: readFileSync(file("server.key"), "utf8"),
    cert: readFileSync(file("server.crt"), "utf8"),
  };
}
