//! The kernel log, read as the fuzzer goes (`/dev/kmsg` from where it was when the run began),
//! so that a splat is blamed on the batch of requests that caused it. The patterns are the test
//! runner's (`qemu/splat-patterns`, `grep -E` lines), of which this reads literal text and
//! `(a|b)` alternatives.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

pub struct Watch {
    log: Option<std::fs::File>,
    patterns: Vec<String>,
}

/// The literal strings a pattern stands for: `list_(add|del) corruption` is two.
fn expand(pattern: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (pattern.find('('), pattern.find(')')) else {
        return vec![pattern.to_string()];
    };
    if close < open {
        return vec![pattern.to_string()];
    }
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    pattern[open + 1..close]
        .split('|')
        .flat_map(|alt| expand(&format!("{head}{alt}{tail}")))
        .collect()
}

impl Watch {
    /// Watches the log for the patterns in `patterns_file`; without one, watches nothing.
    pub fn open(patterns_file: Option<&str>) -> Result<Self, String> {
        let Some(path) = patterns_file else {
            return Ok(Watch {
                log: None,
                patterns: Vec::new(),
            });
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let patterns = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(expand)
            .collect();
        let log = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        // SAFETY: lseek on a descriptor this function owns; SEEK_END skips the log so far.
        if unsafe { libc::lseek(log.as_raw_fd(), 0, libc::SEEK_END) } < 0 {
            return Err(format!("/dev/kmsg: {}", std::io::Error::last_os_error()));
        }
        Ok(Watch {
            log: Some(log),
            patterns,
        })
    }

    /// Reads what the kernel logged since the last call; an error names the first splat line.
    pub fn check(&mut self) -> Result<(), String> {
        let Some(log) = &mut self.log else {
            return Ok(());
        };
        let mut record = vec![0u8; 8192];
        loop {
            match log.read(&mut record) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    let line = String::from_utf8_lossy(&record[..n]);
                    let text = line.split_once(';').map_or(&*line, |(_, t)| t).trim_end();
                    if self.patterns.iter().any(|p| text.contains(p.as_str())) {
                        return Err(format!("the kernel logged: {text}"));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                // Records overwritten before they were read: go on with the next.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) => return Err(format!("/dev/kmsg: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn alternatives_expand() {
        assert_eq!(
            expand("list_(add|del) corruption"),
            ["list_add corruption", "list_del corruption"]
        );
        assert_eq!(expand("KASAN:"), ["KASAN:"]);
    }
}
