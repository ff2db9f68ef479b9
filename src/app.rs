//! The TUI application: state, actions, views and the event loop.
