//! `nanocalc-selfsigned --out-dir DIR`: writes a throwaway self-signed certificate (`cert.pem`) and
//! its key (`key.pem`) into DIR, for tests and local trials of `nanocalc serve --tls-cert`. Not for
//! production: use certificates from your own authority there.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;

/// Writes a throwaway self-signed TLS certificate and its key, for local trials of TLS.
///
/// Writes DIR/cert.pem and DIR/key.pem, for `nanocalc serve --tls-cert DIR/cert.pem --tls-key
/// DIR/key.pem`. A client trusts it by passing DIR/cert.pem as its CA (`new
/// RemoteCalculator('localhost:50051', { tls: { ca: readFileSync('DIR/cert.pem') } })`) and
/// connects by one of its names. Not for production: use certificates from your own authority.
#[derive(Debug, clap::Parser)]
#[command(name = "nanocalc-selfsigned", version)]
struct Args {
    /// Directory to write cert.pem and key.pem into (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "dir", conflicts_with = "dir")]
    out_dir: Option<PathBuf>,

    /// The same as --out-dir DIR.
    #[arg(value_name = "DIR", hide = true)]
    dir: Option<PathBuf>,

    /// A host name the certificate is for (repeatable). Default: localhost. Connect by name: with
    /// an IP address, Node.js warns (DEP0123) and the server logs `Illegal SNI extension`.
    #[arg(long = "name", value_name = "HOSTNAME")]
    names: Vec<String>,

    /// An IP address the certificate is for (repeatable). Default: 127.0.0.1 and ::1.
    #[arg(long = "ip", value_name = "ADDRESS")]
    ips: Vec<IpAddr>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dir = args.out_dir.or(args.dir).expect("clap requires --out-dir or DIR");
    let names = if args.names.is_empty() { vec!["localhost".to_string()] } else { args.names };
    let ips = if args.ips.is_empty() {
        vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])]
    } else {
        args.ips
    };
    // rcgen puts a text that parses as an IP address in the certificate as an IP address SAN.
    let sans: Vec<String> = names.into_iter().chain(ips.iter().map(IpAddr::to_string)).collect();
    let generated = match rcgen::generate_simple_self_signed(sans) {
        Ok(generated) => generated,
        Err(e) => {
            eprintln!("nanocalc-selfsigned: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|()| write(&dir.join("cert.pem"), &generated.cert.pem(), 0o644))
        .and_then(|()| write(&dir.join("key.pem"), &generated.signing_key.serialize_pem(), 0o600))
    {
        eprintln!("nanocalc-selfsigned: cannot write into {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Writes `text` to `path`, a new file readable by others only if `mode` says so (the key is not).
fn write(path: &std::path::Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)?.write_all(text.as_bytes())
}
