//! The address a daemon advertises: the machine's hostname (stout's `net::hostname()`, used
//! when `--hostname` is not given by the master, the agent — `src/master/master.cpp`,
//! `src/slave/slave.cpp` — and for an empty `FrameworkInfo.hostname` by the scheduler
//! driver, `src/sched/sched.cpp`), the IP it advertises when bound to the wildcard, and
//! libprocess's address flags (`--ip`, `--advertise_ip`, `--hostname`,
//! `--[no-]hostname_lookup`) both daemons share.

/// The machine's hostname; `localhost` when the system does not tell.
pub fn system_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The address to advertise for a daemon bound to `ip`: itself unless it is the wildcard,
/// then the first IPv4 address `hostname` resolves to (loopback as the last resort).
pub fn advertised_ip(ip: std::net::Ipv4Addr, hostname: &str) -> std::net::Ipv4Addr {
    use std::net::ToSocketAddrs;
    if !ip.is_unspecified() {
        return ip;
    }
    (hostname, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| {
            addrs.find_map(|a| match a.ip() {
                std::net::IpAddr::V4(v4) if !v4.is_unspecified() => Some(v4),
                _ => None,
            })
        })
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST)
}

/// The address flags daemons share (`--ip`, `--hostname`, `--[no-]hostname_lookup`,
/// `--advertise_ip`): the IP to bind, the hostname to advertise and the IP to advertise.
pub fn address_flags(
    loaded: &crate::flags::LoadedFlags,
) -> Result<(std::net::Ipv4Addr, String, std::net::Ipv4Addr), String> {
    let bind_ip: std::net::Ipv4Addr = match loaded.get_str("ip") {
        Some(ip) => ip
            .parse()
            .map_err(|e| format!("failed to parse flag 'ip': {e}"))?,
        None => std::net::Ipv4Addr::UNSPECIFIED,
    };
    let hostname = match loaded.get_str("hostname") {
        Some(h) => h.to_string(),
        None if !loaded.get_bool("hostname_lookup").unwrap_or(true) => {
            advertised_ip(bind_ip, "localhost").to_string()
        }
        None => system_hostname(),
    };
    let ip = match loaded.get_str("advertise_ip") {
        Some(ip) => ip
            .parse()
            .map_err(|e| format!("failed to parse flag 'advertise_ip': {e}"))?,
        None => advertised_ip(bind_ip, &hostname),
    };
    Ok((bind_ip, hostname, ip))
}
