"""HL7 v2.5.1: message builders (messages.py) and the on-demand ORU route."""
