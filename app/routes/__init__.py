"""One router per resource; ``app.main`` includes them all."""
