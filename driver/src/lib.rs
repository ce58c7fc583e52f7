//! Userspace driver stack (issue 3). Work in progress.
