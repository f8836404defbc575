SELECT email FROM users WHERE false;
