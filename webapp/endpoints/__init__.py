"""The app's endpoints, one module per area; `webapp.app` lists their routes."""
