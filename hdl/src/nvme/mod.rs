pub mod admin_data;
pub mod front;
