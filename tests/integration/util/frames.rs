//! Packet builders shared by the integration tests and `tests/no_alloc.rs`
//! (which includes this file with `#[path]`).

/// An Ethernet/IPv4/UDP DNS query or response frame for `name`.
pub fn frame(client: [u8; 4], port: u16, id: u16, name: &str, response: bool) -> Vec<u8> {
    let mut dns = Vec::new();
    dns.extend_from_slice(&id.to_be_bytes());
    dns.extend_from_slice(&(if response { 0x8180u16 } else { 0x0100 }).to_be_bytes());
    dns.extend_from_slice(&[0, 1, 0, response as u8, 0, 0, 0, 0]);
    for l in name.split('.') {
        dns.push(l.len() as u8);
        dns.extend_from_slice(l.as_bytes());
    }
    dns.extend_from_slice(&[0, 0, 1, 0, 1]);
    if response {
        dns.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 93, 184, 216, 34]);
    }
    let server = [10, 0, 0, 53];
    let (src, dst, sport, dport) = if response {
        (server, client, 53, port)
    } else {
        (client, server, port, 53)
    };
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0];
    let total = (28 + dns.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&dns);
    f
}
