//! Text that reaches the terminal: sanitising and markdown rendering.

pub mod markdown;
pub mod sanitize;

pub use sanitize::sanitize;
