pub mod format;
pub mod pager;
pub mod refusal;
pub mod time;
pub mod url;
