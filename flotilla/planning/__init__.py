"""Planning: forecasts and load balancing. The maths lives in `core`, which has no Django."""
