"""The portal: an HTTP API under /api/v1 and server-rendered pages, over the same application
service and permission table as the CLI (`ntd serve` starts it; app.create_app builds it).

Empty on purpose: the package's modules import one another directly, so importing the
package never builds anything and no import circle can form through it."""
