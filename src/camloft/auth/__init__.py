"""The authenticator role: logins, tokens, devices, viewerInfo, sharing, regions."""
