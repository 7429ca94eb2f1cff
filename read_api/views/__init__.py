"""What the routes answer, one module per resource: msgspec Structs whose encoded names
and optionality are those of the JSON the routes send, so the OpenAPI document (and every
client generated from it) types each success response. Routes may still build dicts:
Litestar encodes a return value as it is, and these Structs only describe it."""
