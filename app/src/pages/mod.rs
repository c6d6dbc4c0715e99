pub mod not_found;
pub mod repositories;
pub mod repository;
pub mod sign_in;
