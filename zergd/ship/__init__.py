"""Sessions from other machines: a zergd elsewhere sends the byte ranges of
its archive (``shipper``) to this one's ``POST /api/ingest`` (``ingest``),
authenticated by a token (``tokens``), in the wire format of ``protocol``."""
