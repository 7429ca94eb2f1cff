"""Product analytics: the PostHog adapter the product-events worker sends through."""
