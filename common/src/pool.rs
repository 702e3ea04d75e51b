//! A bounded pool of equal-sized byte buffers, for streams that would otherwise allocate,
//! zero and fault in a fresh buffer for every chunk (the unpacker's decoder, the registry's
//! blob bodies).

use std::sync::Mutex;

/// Buffers of `size` bytes, at most `max` of them kept between uses.
pub struct BufferPool {
    size: usize,
    max: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// An empty pool of `max` buffers of `size` bytes (usable in a `static`).
    pub const fn new(size: usize, max: usize) -> BufferPool {
        BufferPool {
            size,
            max,
            free: Mutex::new(Vec::new()),
        }
    }

    /// A buffer of this pool's size: one given back earlier (its old bytes still in it), or
    /// a new zeroed one.
    pub fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut f| f.pop())
            .unwrap_or_else(|| vec![0u8; self.size])
    }

    /// Keeps `buf` for a later [`BufferPool::take`], if it has this pool's size and the pool
    /// has room; else frees it.
    pub fn give_back(&self, buf: Vec<u8>) {
        if buf.len() == self.size
            && let Ok(mut f) = self.free.lock()
            && f.len() < self.max
        {
            f.push(buf);
        }
    }

    /// Frees every buffer kept.
    pub fn clear(&self) {
        if let Ok(mut f) = self.free.lock() {
            *f = Vec::new();
        }
    }

    /// How many buffers are kept now.
    pub fn kept(&self) -> usize {
        self.free.lock().map_or(0, |f| f.len())
    }
}

#[cfg(test)]
mod tests {
    use super::BufferPool;

    #[test]
    fn buffers_come_back_up_to_the_bound_and_only_of_the_right_size() {
        let pool = BufferPool::new(8, 2);
        let (a, b, c) = (pool.take(), pool.take(), pool.take());
        assert_eq!(a.len(), 8);
        pool.give_back(vec![0u8; 7]);
        assert_eq!(pool.kept(), 0);
        pool.give_back(a);
        pool.give_back(b);
        pool.give_back(c);
        assert_eq!(pool.kept(), 2);
        pool.clear();
        assert_eq!(pool.kept(), 0);
    }
}
