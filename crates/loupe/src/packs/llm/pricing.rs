//! What tokens cost: a table of per-model prices, the seed's list as the default.

use std::collections::HashMap;

use super::TokenUsage;

/// A model's price in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelPrice {
    /// Dollars per million prompt (input) tokens.
    pub input_per_million: f64,
    /// Dollars per million completion (output) tokens.
    pub output_per_million: f64,
}

impl ModelPrice {
    /// A price from dollars per million input and output tokens.
    pub const fn new(input_per_million: f64, output_per_million: f64) -> Self {
        ModelPrice {
            input_per_million,
            output_per_million,
        }
    }

    /// The dollar cost of `usage` at this price.
    pub fn cost(&self, usage: &TokenUsage) -> f64 {
        (usage.prompt_tokens as f64 * self.input_per_million
            + usage.completion_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// Prices by `(provider, model)`. Models missing from the table cost nothing and record no
/// cost metric, as in the seed.
///
/// The default holds the seed's prices (dollars per million input / output tokens):
/// `openai/gpt-4` 30/60, `openai/gpt-3.5-turbo` 0.5/1.5, `anthropic/claude-3-opus` 15/75,
/// `anthropic/claude-3-sonnet` 3/15.
#[derive(Clone, Debug, PartialEq)]
pub struct PricingTable {
    // Provider, then model: lookups borrow `&str` without building a key.
    prices: HashMap<String, HashMap<String, ModelPrice>>,
}

impl Default for PricingTable {
    fn default() -> Self {
        PricingTable::empty()
            .with_price("openai", "gpt-4", ModelPrice::new(30.0, 60.0))
            .with_price("openai", "gpt-3.5-turbo", ModelPrice::new(0.5, 1.5))
            .with_price("anthropic", "claude-3-opus", ModelPrice::new(15.0, 75.0))
            .with_price("anthropic", "claude-3-sonnet", ModelPrice::new(3.0, 15.0))
    }
}

impl PricingTable {
    /// A table with no prices.
    pub fn empty() -> Self {
        PricingTable {
            prices: HashMap::new(),
        }
    }

    /// Sets (or replaces) the price of `provider`'s `model`.
    #[must_use]
    pub fn with_price(
        mut self,
        provider: impl Into<String>,
        model: impl Into<String>,
        price: ModelPrice,
    ) -> Self {
        self.prices
            .entry(provider.into())
            .or_default()
            .insert(model.into(), price);
        self
    }

    /// The price of `provider`'s `model`, if the table has one.
    pub fn price(&self, provider: &str, model: &str) -> Option<ModelPrice> {
        self.prices.get(provider)?.get(model).copied()
    }

    /// The dollar cost of `usage` on `provider`'s `model`, if the table prices it.
    pub fn cost(&self, provider: &str, model: &str, usage: &TokenUsage) -> Option<f64> {
        self.price(provider, model).map(|price| price.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_holds_the_seed_prices() {
        let table = PricingTable::default();
        let million_each = TokenUsage::new(1_000_000, 1_000_000);
        assert_eq!(table.cost("openai", "gpt-4", &million_each), Some(90.0));
        assert_eq!(
            table.cost("openai", "gpt-3.5-turbo", &million_each),
            Some(2.0)
        );
        assert_eq!(
            table.cost("anthropic", "claude-3-opus", &million_each),
            Some(90.0)
        );
        assert_eq!(
            table.cost("anthropic", "claude-3-sonnet", &million_each),
            Some(18.0)
        );
        assert_eq!(table.cost("openai", "gpt-5", &million_each), None);
    }

    #[test]
    fn with_price_replaces_an_earlier_price() {
        let table =
            PricingTable::default().with_price("openai", "gpt-4", ModelPrice::new(1.0, 1.0));
        assert_eq!(
            table.price("openai", "gpt-4"),
            Some(ModelPrice::new(1.0, 1.0))
        );
        assert_eq!(PricingTable::empty().price("openai", "gpt-4"), None);
    }
}
