pub mod time;
pub mod format;
pub mod url;
pub mod pager;
