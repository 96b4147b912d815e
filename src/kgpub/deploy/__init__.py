"""Configurations for web servers that serve a built site without Python: nginx (the site and
a proxy to the application) and Apache httpd (the w3id.org persistent IRIs)."""
