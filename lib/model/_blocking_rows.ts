/**
 * `BLOCKING_ROWS`: which forwards run on the JavaScript thread.
 *
 * @module
 */

/**
 * Forwards of at most this many rows run on the JavaScript thread (`Session.run`'s `blocking`):
 * decoding and verification steps skip the hand-over to a worker thread and back (measured on
 * 2 cores: about 0.7 ms per step of the bench target, +30% autoregressive tokens/s). Longer ones
 * (prefills) run on a worker, so a server's event loop is never held for long.
 */
export const BLOCKING_ROWS = 64;
