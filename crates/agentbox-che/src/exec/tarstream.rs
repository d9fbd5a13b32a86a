//! Files as tar streams, built and read incrementally so no file is ever held whole in memory.
//!
//! Upload: the source is cut into chunks; each chunk becomes one tar entry (tar needs each
//! entry's size up front, a chunk's is known) and the remote `tar -xO` writes every entry's
//! data in order, so the file is the chunks concatenated. Download: the remote `tar -c` of one
//! file is parsed header by header and only the file's data is passed on.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of a tar block.
pub(crate) const BLOCK: usize = 512;
/// Bytes of a tar record (GNU tar's default: 20 blocks).
pub(crate) const RECORD: usize = 20 * BLOCK;

/// The entry name of upload chunks.
pub(crate) const CHUNK_NAME: &[u8] = b"chunk";
/// The entry name that ends an upload; without it the remote refuses the file.
pub(crate) const END_NAME: &[u8] = b"agentbox-end";

/// The tar header of one upload chunk of `size` bytes.
pub(crate) fn chunk_header(size: u64) -> [u8; BLOCK] {
    entry_header(CHUNK_NAME, size)
}

/// The tar header of the empty entry that ends an upload.
pub(crate) fn end_header() -> [u8; BLOCK] {
    entry_header(END_NAME, 0)
}

fn entry_header(name: &[u8], size: u64) -> [u8; BLOCK] {
    let mut header = tar::Header::new_ustar();
    // A constant name: the remote extracts to stdout, never to this path.
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut block = [0u8; BLOCK];
    block.copy_from_slice(header.as_bytes());
    block
}

/// Zero bytes that pad `size` bytes of data to a whole block.
pub(crate) fn padding(size: u64) -> usize {
    let rest = (size % BLOCK as u64) as usize;
    if rest == 0 { 0 } else { BLOCK - rest }
}

/// The end of an archive: two zero blocks.
pub(crate) const END: [u8; 2 * BLOCK] = [0u8; 2 * BLOCK];

/// What the header of the next entry said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A regular file with this many bytes of data.
    File(u64),
    /// The archive ended without a regular file.
    End,
}

/// Reads a tar stream up to the first regular file's data.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Bytes of the current file not yet read.
    remaining: u64,
    /// Padding after the current file.
    pad: usize,
}

impl<R: AsyncRead + Unpin> TarReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            remaining: 0,
            pad: 0,
        }
    }

    /// Skip extension headers (GNU long names, pax records) until a regular file's header,
    /// honouring a pax `size` record. `Ok(None)` when the stream ended before any header.
    pub(crate) async fn next_file(&mut self) -> std::io::Result<Option<Entry>> {
        let mut pax_size: Option<u64> = None;
        loop {
            let mut block = [0u8; BLOCK];
            if !read_block(&mut self.inner, &mut block).await? {
                return Ok(None);
            }
            if block.iter().all(|b| *b == 0) {
                return Ok(Some(Entry::End));
            }
            let header = tar::Header::from_byte_slice(&block);
            let size = header.entry_size()?;
            match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = pax_size.unwrap_or(size);
                    self.remaining = size;
                    self.pad = padding(size);
                    return Ok(Some(Entry::File(size)));
                }
                tar::EntryType::XHeader => {
                    let data = self.read_small(size).await?;
                    pax_size = pax_record(&data, "size").or(pax_size);
                }
                _ => {
                    self.skip(size + padding(size) as u64).await?;
                }
            }
        }
    }

    /// The next piece of the current file's data; `None` once it is all read.
    pub(crate) async fn next_chunk(&mut self, max: usize) -> std::io::Result<Option<Bytes>> {
        if self.remaining == 0 {
            if self.pad > 0 {
                let pad = std::mem::take(&mut self.pad);
                self.skip(pad as u64).await?;
            }
            return Ok(None);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(max);
        let mut buf = vec![0u8; want];
        let n = self.inner.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the tar stream ended {} bytes before the file did",
                    self.remaining
                ),
            ));
        }
        buf.truncate(n);
        self.remaining -= n as u64;
        Ok(Some(Bytes::from(buf)))
    }

    /// The rest of the stream, read and dropped.
    pub(crate) async fn drain(&mut self) -> std::io::Result<()> {
        tokio::io::copy(&mut self.inner, &mut tokio::io::sink()).await?;
        Ok(())
    }

    async fn read_small(&mut self, size: u64) -> std::io::Result<Vec<u8>> {
        const LIMIT: u64 = 1024 * 1024;
        if size > LIMIT {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a tar extension header of {size} bytes is larger than {LIMIT}"),
            ));
        }
        let mut data = vec![0u8; size as usize];
        self.inner.read_exact(&mut data).await?;
        self.skip(padding(size) as u64).await?;
        Ok(data)
    }

    async fn skip(&mut self, bytes: u64) -> std::io::Result<()> {
        let copied =
            tokio::io::copy(&mut (&mut self.inner).take(bytes), &mut tokio::io::sink()).await?;
        if copied < bytes {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Fill `block`; `false` when the stream ended before its first byte.
async fn read_block<R: AsyncRead + Unpin>(
    reader: &mut R,
    block: &mut [u8],
) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < block.len() {
        let n = reader.read(&mut block[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(false);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the tar stream ended inside a header",
            ));
        }
        filled += n;
    }
    Ok(true)
}

/// The value of `key` in pax extended header records (`"<len> key=value\n"` each).
fn pax_record(data: &[u8], key: &str) -> Option<u64> {
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return None;
        }
        let record = &rest[space + 1..len];
        rest = &rest[len..];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|b| *b == b'=')
            && &record[..eq] == key.as_bytes()
        {
            return std::str::from_utf8(&record[eq + 1..]).ok()?.parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive with `parts` as upload chunks, as the executor sends it.
    fn chunked(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            out.extend_from_slice(&chunk_header(part.len() as u64));
            out.extend_from_slice(part);
            out.extend(std::iter::repeat_n(0u8, padding(part.len() as u64)));
        }
        out.extend_from_slice(&end_header());
        out.extend_from_slice(&END);
        out
    }

    #[test]
    fn chunks_unpack_with_the_tar_crate_to_the_concatenated_data() {
        let archive = chunked(&[b"hello ", &[7u8; 1000], b"", b"end"]);
        let mut data = Vec::new();
        let mut reader = tar::Archive::new(archive.as_slice());
        for entry in reader.entries().unwrap() {
            std::io::Read::read_to_end(&mut entry.unwrap(), &mut data).unwrap();
        }
        let mut want = b"hello ".to_vec();
        want.extend([7u8; 1000]);
        want.extend(b"end");
        assert_eq!(data, want);
    }

    #[tokio::test]
    async fn a_file_is_read_past_long_name_and_pax_headers() {
        let mut builder = tar::Builder::new(Vec::new());
        let long = format!("./{}", "n".repeat(150));
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, &long, &b"12345"[..])
            .unwrap();
        let archive = builder.into_inner().unwrap();

        let mut reader = TarReader::new(archive.as_slice());
        assert_eq!(reader.next_file().await.unwrap(), Some(Entry::File(5)));
        let mut got = Vec::new();
        while let Some(chunk) = reader.next_chunk(2).await.unwrap() {
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, b"12345");
        reader.drain().await.unwrap();
    }

    #[tokio::test]
    async fn a_pax_size_record_overrides_the_header() {
        let mut archive = Vec::new();
        let record = b"11 size=10\n";
        let mut pax = tar::Header::new_ustar();
        pax.set_path("PaxHeader").unwrap();
        pax.set_size(record.len() as u64);
        pax.set_entry_type(tar::EntryType::XHeader);
        pax.set_cksum();
        archive.extend_from_slice(pax.as_bytes());
        archive.extend_from_slice(record);
        archive.extend(std::iter::repeat_n(0u8, padding(record.len() as u64)));
        archive.extend_from_slice(&chunk_header(0));
        archive.extend_from_slice(b"0123456789");
        let mut reader = TarReader::new(archive.as_slice());
        assert_eq!(reader.next_file().await.unwrap(), Some(Entry::File(10)));
    }

    #[tokio::test]
    async fn a_truncated_stream_is_an_error_not_a_short_file() {
        let mut archive = chunk_header(100).to_vec();
        archive.extend_from_slice(b"only forty bytes of the promised hundred");
        let mut reader = TarReader::new(archive.as_slice());
        assert_eq!(reader.next_file().await.unwrap(), Some(Entry::File(100)));
        let mut result = Ok(None);
        for _ in 0..10 {
            result = reader.next_chunk(64).await;
            if !matches!(result, Ok(Some(_))) {
                break;
            }
        }
        assert_eq!(
            result.unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[tokio::test]
    async fn an_empty_stream_has_no_entry() {
        let mut reader = TarReader::new(&b""[..]);
        assert_eq!(reader.next_file().await.unwrap(), None);
        let mut reader = TarReader::new(&END[..]);
        assert_eq!(reader.next_file().await.unwrap(), Some(Entry::End));
    }
}
