//! A private certificate authority for `rediss://` tests.

use std::path::PathBuf;
use std::process::Command;

use crate::scratch::scratch_dir;

/// A private certificate authority with a server certificate (for
/// 127.0.0.1 and localhost) and a client certificate it signed, made with
/// the `openssl` command in a directory removed on drop. Files: `ca.crt`,
/// `server.crt`, `server.key`, `client.crt`, `client.key` (PEM).
pub struct TestCerts {
    dir: tempfile::TempDir,
}

/// P-256 keys: quick to make and accepted by rustls and Redis alike.
const KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl TestCerts {
    /// Generates the CA and both certificates (valid 2 days).
    ///
    /// # Panics
    /// When `openssl` is missing or fails (scripts/test.sh installs it).
    pub fn generate() -> Self {
        let certs = TestCerts {
            dir: scratch_dir("shoal-certs"),
        };
        let mut ca = vec!["req", "-x509", "-nodes", "-days", "2"];
        ca.extend(KEY);
        ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
        ca.extend(["-subj", "/CN=shoal-test-ca"]);
        certs.openssl(&ca);
        certs.sign(
            "server",
            "serverAuth",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        );
        certs.sign("client", "clientAuth", "");
        certs
    }

    /// Makes `NAME.key` and `NAME.crt`, signed by the CA for `usage`, with
    /// extension lines `alt`.
    fn sign(&self, name: &str, usage: &str, alt: &str) {
        let (keyfile, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let text = format!("{alt}basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n");
        std::fs::write(self.path(&ext), text).expect("write extension file");
        let mut request = vec!["req", "-nodes"];
        request.extend(KEY);
        request.extend(["-keyout", &keyfile, "-out", &csr]);
        let subject = format!("/CN=shoal-test-{name}");
        request.extend(["-subj", &subject]);
        self.openssl(&request);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &crt,
            "-extfile",
            &ext,
        ]);
    }

    /// The file `name` (e.g. `ca.crt`) in the certificate directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run openssl ({e}); scripts/test.sh installs it (apt-get install openssl)")
            });
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
