//! The `signet` command: parses arguments and hands over to the library (see `cli/`).
#![allow(clippy::result_large_err)]
// signet's own entry instead of std's run-time start-up, on Linux with glibc: see `main` below.
#![cfg_attr(all(target_os = "linux", target_env = "gnu", not(test)), no_main)]

mod cli;

// Every freed block is wiped: key limbs, tokens and passphrases in buffers signet does not own.
#[global_allocator]
static ALLOC: signet::ZeroizeOnFree = signet::ZeroizeOnFree::new(std::alloc::System);

/// The process entry, called by glibc's start-up in place of std's.
///
/// std's start-up finds the main thread's stack guard (`pthread_getattr_np`, which reads and
/// parses /proc/self/maps) and installs a stack-overflow handler on an alternate signal stack:
/// ~16 system calls and ~40k instructions, 5% of a cache hit (callgrind, docs/BENCHMARKS.md).
/// What else that start-up does, signet does here: descriptors 0–2 opened on /dev/null if closed
/// (so that no file signet opens takes one and receives its output), SIGPIPE ignored (a closed
/// pipe is an error signet reports; children still start with it at its default, as std's
/// `Command` resets it), a panic ends the process with status 101 (unwinding out of here would
/// abort), and `process::exit` flushes stdout as a return from std's `main` does. Arguments still
/// come from `std::env::args_os`: glibc hands them to std before `main` runs. A stack overflow is
/// a plain SIGSEGV instead of std's message and abort.
#[cfg(all(target_os = "linux", target_env = "gnu", not(test)))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    open_standard_descriptors();
    // SAFETY: sets a signal's disposition, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = match std::panic::catch_unwind(cli::main) {
        // `ExitCode` has no stable way to read its value back but equality.
        Ok(code) => (0..=u8::MAX)
            .find(|n| std::process::ExitCode::from(*n) == code)
            .map_or(1, i32::from),
        Err(_) => 101,
    };
    std::process::exit(code)
}

/// Opens /dev/null on whichever of descriptors 0, 1 and 2 is closed (as std's start-up does).
#[cfg(all(target_os = "linux", target_env = "gnu", not(test)))]
fn open_standard_descriptors() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes the three entries of a live array.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } >= 0;
    for pfd in fds {
        let closed = if polled {
            pfd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only asks whether the descriptor is open.
            let r = unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) };
            r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        };
        // SAFETY: opens a path given as a C string literal; the lowest free descriptor (this
        // one) is taken and kept for the process's life.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            // As std does: better to stop than to run with a descriptor another file could take.
            std::process::abort();
        }
    }
}

// Elsewhere, and for the unit tests (whose harness brings its own `main`), std's start-up.
#[cfg(any(not(all(target_os = "linux", target_env = "gnu")), test))]
fn main() -> std::process::ExitCode {
    cli::main()
}
