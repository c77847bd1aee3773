//! The one shape of the server's tower layers (the guard, the metrics): each is a value that is
//! handed every request with a ready clone of the inner service, and wraps the call around it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;

/// The future of a wrapped call.
pub type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// What a layer does with each call: `inner` is ready to be called with `request` (or dropped).
pub trait Around: Clone + Send + 'static {
    fn around<S>(&self, request: Request<Body>, inner: S) -> BoxFuture<Response<Body>, S::Error>
    where
        S: tower::Service<Request<Body>, Response = Response<Body>> + Send + 'static,
        S::Future: Send + 'static;
}

/// A tower layer of an [`Around`].
#[derive(Clone, Debug)]
pub struct AroundLayer<A>(pub A);

impl<S, A: Clone> tower::Layer<S> for AroundLayer<A> {
    type Service = Wrapped<S, A>;

    fn layer(&self, inner: S) -> Wrapped<S, A> {
        Wrapped { inner, around: self.0.clone() }
    }
}

/// A service wrapped by an [`Around`].
#[derive(Clone, Debug)]
pub struct Wrapped<S, A> {
    inner: S,
    around: A,
}

impl<S, A> tower::Service<Request<Body>> for Wrapped<S, A>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: Around,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was made ready is the one called (tower's usual swap).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        self.around.around(request, inner)
    }
}

/// What a [`Watched`] body does with each of its frames as it passes (and, by its own `Drop`, when
/// the body is dropped).
pub trait Watch: Send + Unpin + 'static {
    fn frame(&mut self, frame: &Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>);
}

/// A body passed through unchanged, its frames shown to `watch` on the way.
pub struct Watched<W> {
    pub inner: Body,
    pub watch: W,
}

impl<W: Watch> http_body::Body for Watched<W> {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        let this = &mut *self;
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        this.watch.frame(&frame);
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
