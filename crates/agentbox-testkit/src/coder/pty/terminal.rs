//! A pseudo-terminal pair: the master, read and written asynchronously, and the slave given to
//! the command as its standard streams. The line discipline is set as a login terminal's is
//! (echo, canonical input, `\n` written as `\r\n`), so the output looks like a real terminal's.

use std::io;
use std::os::fd::OwnedFd;

use rustix::pty::OpenptFlags;
use rustix::termios::{
    InputModes, LocalModes, OptionalActions, OutputModes, Winsize, tcgetattr, tcsetattr,
    tcsetwinsize,
};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The master side of a pseudo-terminal.
#[derive(Debug)]
pub(crate) struct PtyMaster {
    fd: AsyncFd<OwnedFd>,
}

/// Open a pseudo-terminal of `width` × `height` cells; returns the master and the slave.
pub(crate) fn open(width: u16, height: u16) -> io::Result<(PtyMaster, OwnedFd)> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    // TIOCGPTPEER opens the slave from the master, without a path lookup in /dev/pts.
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags)?;
    let mut termios = tcgetattr(&slave)?;
    termios.input_modes |= InputModes::ICRNL;
    termios.output_modes |= OutputModes::OPOST | OutputModes::ONLCR;
    termios.local_modes |= LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG;
    tcsetattr(&slave, OptionalActions::Now, &termios)?;
    tcsetwinsize(&slave, winsize(width, height))?;
    rustix::io::ioctl_fionbio(&master, true)?;
    // SAFETY: an `OwnedFd` is open for its whole life and always names the same descriptor,
    // which is what registering it with the reactor requires.
    let fd = unsafe {
        AsyncFd::register_with_interest(master, Interest::READABLE | Interest::WRITABLE)
    }?;
    Ok((PtyMaster { fd }, slave))
}

fn winsize(width: u16, height: u16) -> Winsize {
    Winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl PtyMaster {
    /// Read output; `Ok(0)` or an error (`EIO` on Linux) once every slave descriptor is closed.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| rustix::io::read(fd.get_ref(), &mut *buf).map_err(Into::into)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Write all of `data` as typed input.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| rustix::io::write(fd.get_ref(), data).map_err(Into::into)) {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Change the terminal's size (`TIOCSWINSZ`; the foreground process group gets `SIGWINCH`).
    pub fn resize(&self, width: u16, height: u16) -> io::Result<()> {
        tcsetwinsize(self.fd.get_ref(), winsize(width, height)).map_err(Into::into)
    }
}
