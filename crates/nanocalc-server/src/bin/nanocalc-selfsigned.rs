//! `nanocalc-selfsigned DIR`: writes a throwaway self-signed certificate (`cert.pem`) and its key
//! (`key.pem`) for `localhost` and `127.0.0.1` into DIR, for tests and local trials of `--tls-cert`.
//! Not for production: use certificates from your own authority there.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: nanocalc-selfsigned DIR   (writes DIR/cert.pem and DIR/key.pem)");
        return ExitCode::from(2);
    };
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let generated = match rcgen::generate_simple_self_signed(names) {
        Ok(generated) => generated,
        Err(e) => {
            eprintln!("nanocalc-selfsigned: {e}");
            return ExitCode::FAILURE;
        }
    };
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text);
    if let Err(e) =
        write("cert.pem", generated.cert.pem()).and_then(|()| write("key.pem", generated.signing_key.serialize_pem()))
    {
        eprintln!("nanocalc-selfsigned: cannot write into {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
