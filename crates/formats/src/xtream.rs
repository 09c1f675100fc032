//! The Xtream Codes JSON shapes exactly as players parse them. (Pending.)
