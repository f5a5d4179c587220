//! A bounded pipe from a blocking task to a streaming response body, for downloads read from the database
//! while they are sent (the dataset export).
//!
//! The task writes while the client reads, with at most `capacity` chunks in between, so memory stays
//! flat however large the download. A client that reads nothing for `stall` loses the download: the task
//! gives up and frees what it holds (its database snapshot). A download that ends early ends its body
//! with an error, and actix then closes the connection without the last chunk: the client sees a broken
//! download, never a truncated document that looks complete.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;

/// Creates a pipe holding at most `capacity` chunks, whose writer waits at most `stall` for the reader.
pub fn pipe(capacity: usize, stall: Duration) -> (PipeWriter, PipeBody) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            chunks: VecDeque::with_capacity(capacity),
            reader: Reader::NotYet,
            end: None,
            waker: None,
        }),
        changed: Condvar::new(),
        capacity: capacity.max(1),
        stall,
    });
    (PipeWriter { shared: shared.clone(), finished: false }, PipeBody { shared })
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the reader takes a chunk, starts reading or goes away.
    changed: Condvar,
    capacity: usize,
    stall: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits while `blocked` holds, at most `stall` at a time without progress of the reader.
    fn wait_while<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        blocked: impl Fn(&State) -> bool,
    ) -> io::Result<MutexGuard<'a, State>> {
        let deadline = Instant::now() + self.stall;
        while blocked(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the client read nothing in time"));
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        Ok(state)
    }
}

struct State {
    chunks: VecDeque<Bytes>,
    reader: Reader,
    end: Option<End>,
    /// The body's task, woken when a chunk or the end arrives.
    waker: Option<Waker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// The response has not been sent yet (or will not be: a 304, a HEAD).
    NotYet,
    Reading,
    Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Complete,
    Broken,
}

/// The blocking task's end: an [`io::Write`] that blocks while the pipe is full.
pub struct PipeWriter {
    shared: Arc<Shared>,
    finished: bool,
}

impl PipeWriter {
    /// Waits until the response body is being sent (true), or will never be (false: the response went
    /// without it, the client went away, or nothing happened within `stall`).
    pub fn wait_for_reader(&self) -> bool {
        let state = self.shared.lock();
        let waited = self.shared.wait_while(state, |state| state.reader == Reader::NotYet);
        waited.is_ok_and(|state| state.reader == Reader::Reading)
    }

    /// Ends the body: everything was written.
    pub fn finish(mut self) {
        self.finished = true;
        self.end(End::Complete);
    }

    fn end(&self, end: End) {
        let waker = {
            let mut state = self.shared.lock();
            state.end.get_or_insert(end);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl io::Write for PipeWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if bytes.is_empty() {
            return Ok(0);
        }
        let state = self.shared.lock();
        let capacity = self.shared.capacity;
        let mut state =
            self.shared.wait_while(state, |state| state.reader != Reader::Gone && state.chunks.len() >= capacity)?;
        if state.reader == Reader::Gone {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"));
        }
        state.chunks.push_back(Bytes::copy_from_slice(bytes));
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for PipeWriter {
    /// A writer that goes without [`PipeWriter::finish`] breaks the body.
    fn drop(&mut self) {
        if !self.finished {
            self.end(End::Broken);
        }
    }
}

/// The response's end: a stream of the chunks written.
pub struct PipeBody {
    shared: Arc<Shared>,
}

impl Stream for PipeBody {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let mut state = self.shared.lock();
        if state.reader == Reader::NotYet {
            state.reader = Reader::Reading;
            self.shared.changed.notify_all();
        }
        if let Some(chunk) = state.chunks.pop_front() {
            self.shared.changed.notify_all();
            return Poll::Ready(Some(Ok(chunk)));
        }
        match state.end {
            Some(End::Complete) => Poll::Ready(None),
            Some(End::Broken) => Poll::Ready(Some(Err(io::Error::other("the download broke off")))),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for PipeBody {
    fn drop(&mut self) {
        self.shared.lock().reader = Reader::Gone;
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use futures_util::StreamExt;

    use super::*;

    fn drain(body: &mut PipeBody) -> Vec<io::Result<Bytes>> {
        actix_web::rt::System::new().block_on(async {
            let mut items = Vec::new();
            while let Some(item) = body.next().await {
                let failed = item.is_err();
                items.push(item);
                if failed {
                    break;
                }
            }
            items
        })
    }

    #[test]
    fn chunks_arrive_in_order_and_the_end_is_complete() {
        let (mut writer, mut body) = pipe(2, Duration::from_secs(5));
        let task = std::thread::spawn(move || {
            assert!(writer.wait_for_reader());
            for i in 0..100u8 {
                writer.write_all(&[i]).unwrap();
            }
            writer.finish();
        });
        let items = drain(&mut body);
        task.join().unwrap();
        let bytes: Vec<u8> = items.into_iter().flat_map(|item| item.unwrap().to_vec()).collect();
        assert_eq!(bytes, (0..100).collect::<Vec<u8>>());
    }

    #[test]
    fn a_writer_that_stops_early_breaks_the_body() {
        let (mut writer, mut body) = pipe(4, Duration::from_secs(5));
        writer.write_all(b"{\"partial\": ").unwrap();
        drop(writer);
        let items = drain(&mut body);
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err(), "the end of a broken download is an error, not the end of the body");
    }

    #[test]
    fn a_reader_that_reads_nothing_stops_the_writer_in_time() {
        let (mut writer, _body) = pipe(1, Duration::from_millis(100));
        writer.write_all(b"a").unwrap();
        let started = Instant::now();
        let error = writer.write_all(b"b").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_body_that_is_never_sent_tells_the_writer() {
        let (mut writer, body) = pipe(1, Duration::from_secs(5));
        drop(body);
        assert!(!writer.wait_for_reader());
        assert_eq!(writer.write_all(b"a").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
