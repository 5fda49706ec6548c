//! `/proc/self/fd/<n>` paths built without allocating, for code that runs between fork and
//! exec (mounting onto a descriptor opened safely: agent/containerizer/linux.rs,
//! common/rootfs.rs).

use std::os::fd::BorrowedFd;

/// `/proc/self/fd/<fd>` in a stack buffer (no allocation between fork and exec).
pub struct FdPath([u8; 32]);

impl FdPath {
    pub fn new(fd: BorrowedFd<'_>) -> FdPath {
        use std::os::fd::AsRawFd;
        let mut buffer = [0u8; 32];
        let prefix = b"/proc/self/fd/";
        buffer[..prefix.len()].copy_from_slice(prefix);
        let mut digits = [0u8; 12];
        let mut n = fd.as_raw_fd().max(0) as u32;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buffer[prefix.len() + i] = digits[len - 1 - i];
        }
        FdPath(buffer)
    }

    pub fn as_cstr(&self) -> &std::ffi::CStr {
        // The buffer always ends in NULs: at most 14 + 10 bytes are written.
        std::ffi::CStr::from_bytes_until_nul(&self.0).unwrap_or(c"/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn fd_paths_are_formatted_without_allocation() {
        let file = std::fs::File::open("/").unwrap();
        use std::os::fd::AsRawFd;
        let path = FdPath::new(file.as_fd());
        assert_eq!(
            path.as_cstr().to_str().unwrap(),
            format!("/proc/self/fd/{}", file.as_raw_fd())
        );
    }
}
