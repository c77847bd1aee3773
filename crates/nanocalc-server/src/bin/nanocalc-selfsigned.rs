//! `nanocalc-selfsigned --out-dir DIR`: writes a throwaway self-signed certificate (`cert.pem`) and
//! its key (`key.pem`) into DIR, for tests and local trials of `nanocalc serve --tls-cert`; with
//! `--client`, also a throwaway authority for client certificates (`client-ca.pem`) and a client
//! certificate it signed (`client.pem`, `client-key.pem`), for `--tls-client-ca`. Not for
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

    /// Also write a client authority (client-ca.pem, for `--tls-client-ca`) and a client
    /// certificate it signed (client.pem, client-key.pem), for trials of mutual TLS.
    #[arg(long)]
    client: bool,
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
    let mut files =
        vec![("cert.pem", generated.cert.pem(), 0o644), ("key.pem", generated.signing_key.serialize_pem(), 0o600)];
    if args.client {
        match client_certificates() {
            Ok(client) => files.extend(client),
            Err(e) => {
                eprintln!("nanocalc-selfsigned: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|()| files.iter().try_for_each(|(name, text, mode)| write(&dir.join(name), text, *mode)))
    {
        eprintln!("nanocalc-selfsigned: cannot write into {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// A throwaway authority for client certificates and one client certificate it signed: the files
/// `client-ca.pem`, `client.pem` and `client-key.pem`, with their contents and modes.
fn client_certificates() -> Result<Vec<(&'static str, String, u32)>, rcgen::Error> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "nanocalc throwaway client CA");
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut client = CertificateParams::new(Vec::new())?;
    client.distinguished_name.push(DnType::CommonName, "nanocalc client");
    client.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
    let client_key = KeyPair::generate()?;
    let client_cert = client.signed_by(&client_key, &issuer)?;
    Ok(vec![
        ("client-ca.pem", ca_cert.pem(), 0o644),
        ("client.pem", client_cert.pem(), 0o644),
        ("client-key.pem", client_key.serialize_pem(), 0o600),
    ])
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
