//! Test certificates made with the `openssl` command: an authority, a server certificate
//! for 127.0.0.1 and a client certificate it issued, and a second, unrelated authority.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of one test's certificates.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let program = super::debian_program("openssl", "openssl");
    super::run(Command::new(program).current_dir(dir).args(args));
}

/// An authority `name` (its certificate `name.pem`, key `name.key`).
fn authority(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// A certificate for `cn` issued by authority `ca`, with the given extensions.
fn issue(dir: &Path, ca: &str, name: &str, cn: &str, extensions: &str) -> (PathBuf, PathBuf) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-days",
            "2",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

/// Fresh certificates for `test`, in their own directory.
pub fn pki(test: &str) -> Pki {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = authority(&dir, "ca");
    let other_ca = authority(&dir, "other-ca");
    let (server_cert, server_key) = issue(
        &dir,
        "ca",
        "server",
        "localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    let (client_cert, client_key) = issue(
        &dir,
        "ca",
        "client",
        "loupe-test-client",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
    Pki {
        ca,
        server_cert,
        server_key,
        client_cert,
        client_key,
        other_ca,
    }
}

/// The OTLP receiver (`tests/peers/otlp_receiver.py`) in `mode`, serving TLS with the
/// server certificate of `pki`; with `mutual`, it also requires a client certificate
/// issued by the test authority. `more` is passed on to the receiver.
pub fn tls_receiver(mode: &str, pki: &Pki, mutual: bool, more: &[&str]) -> (super::Peer, u16) {
    let (cert, key, ca) = (
        pki.server_cert.to_str().unwrap(),
        pki.server_key.to_str().unwrap(),
        pki.ca.to_str().unwrap(),
    );
    let mut args = vec!["--tls", cert, key];
    if mutual {
        args.extend(["--client-ca", ca]);
    }
    args.extend(more);
    super::otlp_receiver(mode, &args)
}
