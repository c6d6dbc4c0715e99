pub mod audit;
pub mod copy;
pub mod format;
pub mod keys;
pub mod pager;
pub mod refusal;
pub mod time;
pub mod url;
