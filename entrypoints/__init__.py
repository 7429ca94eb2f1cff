"""Entry points: the composition root (bootstrap), the ASGI factory and the CLI; the only
package that may import every other one."""
