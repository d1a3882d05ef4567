//! Exit codes, decided in one place from an error's category.

use signet::Category;

/// The process exit codes of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Usage or configuration.
    Usage = 2,
    /// Key or certificate.
    Key = 3,
    /// The endpoint refused.
    Refused = 4,
    /// The exchange could not complete.
    Network = 5,
}

impl From<Category> for Exit {
    fn from(c: Category) -> Exit {
        match c {
            Category::Usage => Exit::Usage,
            Category::Key => Exit::Key,
            Category::Refused => Exit::Refused,
            Category::Network => Exit::Network,
        }
    }
}

impl From<&signet::Error> for Exit {
    fn from(e: &signet::Error) -> Exit {
        e.category().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_map_to_contract_codes() {
        assert_eq!(Exit::from(Category::Usage) as i32, 2);
        assert_eq!(Exit::from(Category::Key) as i32, 3);
        assert_eq!(Exit::from(Category::Refused) as i32, 4);
        assert_eq!(Exit::from(Category::Network) as i32, 5);
    }
}
