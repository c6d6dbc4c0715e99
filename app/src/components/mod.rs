pub mod format;
pub mod pager;
pub mod time;
pub mod url;
