//! Checks of certificates the chart generated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use x509_parser::pem::parse_x509_pem;

fn der(pem_base64: &str) -> Vec<u8> {
    let pem = STANDARD.decode(pem_base64).expect("base64 in the Secret");
    let (_, pem) = parse_x509_pem(&pem).expect("a PEM certificate");
    pem.contents
}

/// `cert` (base64 of a PEM, as in a Secret) is issued by `ca` and names `dns_name`.
pub fn assert_signed_for(cert: &str, ca: &str, dns_name: &str) {
    let cert_der = der(cert);
    let ca_der = der(ca);
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der).expect("a certificate");
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).expect("a CA certificate");
    assert_eq!(cert.issuer(), ca.subject(), "issued by the CA");
    assert!(ca.is_ca(), "the CA certificate is a CA");
    assert!(cert.validity().is_valid(), "valid now");
    let names: Vec<String> = cert
        .subject_alternative_name()
        .expect("valid extensions")
        .map(|san| {
            san.value
                .general_names
                .iter()
                .map(|name| name.to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        names.iter().any(|name| name.contains(dns_name)),
        "{dns_name} not in {names:?}"
    );
}
