"""The API's routes, by audience: the panel's files and health (``panel``), answers and chat
(``answers``), feedback (``feedback``), tickets (``tickets``), and admin (``admin``)."""
