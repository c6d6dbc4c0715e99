pub mod api_docs;
pub mod not_found;
pub mod repositories;
pub mod repository;
pub mod settings;
pub mod setup;
pub mod sign_in;
pub mod tag;
